//! The console's words in Simplified Chinese (the default) and English, chosen by the `lang`
//! cookie. Pages ask for a key; a key missing from the catalogue shows as itself.

use axum::http::HeaderMap;

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 简体中文.
    #[default]
    Zh,
    /// English.
    En,
}

/// The cookie that keeps the choice.
pub const COOKIE: &str = "lw_lang";

impl Lang {
    /// The language from the request's cookie.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        match super::cookies::cookie(headers, COOKIE) {
            Some("en") => Self::En,
            _ => Self::Zh,
        }
    }

    /// From a code (`zh`, `en`).
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "zh" => Some(Self::Zh),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// Its code, for `<html lang>` and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Self::Zh => "zh-CN",
            Self::En => "en",
        }
    }

    /// The other language, offered in the header.
    pub fn other(self) -> (&'static str, &'static str) {
        match self {
            Self::Zh => ("en", "English"),
            Self::En => ("zh", "中文"),
        }
    }

    /// The word for `value` of a `group` of codes (`task.status` + `open`).
    pub fn word(self, group: &str, value: &str) -> String {
        self.t(&format!("{group}.{value}")).to_owned()
    }

    /// Yes or no, in words.
    pub fn yes_no(self, yes: bool) -> String {
        self.t(if yes { "system.yes" } else { "system.no" }).to_owned()
    }

    /// The text of `key`.
    pub fn t(self, key: &str) -> &str {
        match MESSAGES.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self {
                Self::Zh => zh,
                Self::En => en,
            },
            None => key,
        }
    }
}

/// Key, Chinese, English.
pub(crate) static MESSAGES: &[(&str, &str, &str)] = &[
    ("app.name", "租赁风控与业务平台", "leasewatch back office"),
    ("nav.dashboard", "工作台", "Dashboard"),
    ("nav.contracts", "合同", "Contracts"),
    ("nav.dealers", "经销商", "Dealers"),
    ("nav.alerts", "告警", "Alerts"),
    ("nav.map", "车辆地图", "Map"),
    ("nav.products", "产品方案", "Products"),
    ("nav.vehicles", "车辆", "Vehicles"),
    ("nav.workflow", "待办审批", "Approvals"),
    ("nav.docs", "接口文档", "API reference"),
    ("nav.tasks", "任务", "Tasks"),
    ("nav.system", "系统管理", "System"),
    ("action.sign_in", "登录", "Sign in"),
    ("action.sign_out", "退出", "Sign out"),
    ("action.filter", "查询", "Filter"),
    ("action.reset", "重置", "Reset"),
    ("action.save", "保存", "Save"),
    ("nav.monitor", "监控设置", "Monitoring"),
    ("map.layer.vehicles", "车辆", "Vehicles"),
    ("map.track", "轨迹", "Track"),
    ("map.day", "日期", "Day"),
    ("map.show_track", "查看轨迹", "Show track"),
    ("map.playback", "回放", "Playback"),
    ("map.play", "播放", "Play"),
    ("map.stop", "停留", "Stopped"),
    ("map.alarm", "报警", "Alarm"),
    ("map.points", "个定位点", "fixes"),
    ("vehicle.track", "查看轨迹", "Track on the map"),
    ("map.layer.provinces", "省界", "Provinces"),
    ("map.layer.geofences", "电子围栏", "Geofences"),
    ("monitor.risk_locations", "风险地点", "Risk locations"),
    ("monitor.rules", "规则阈值", "Rule thresholds"),
    ("place.name", "名称", "Name"),
    ("place.kind", "类型", "Kind"),
    ("place.position", "位置", "Position"),
    ("place.radius_m", "半径（米）", "Radius (m)"),
    ("place.active", "启用", "Active"),
    ("rule.rule", "规则", "Rule"),
    ("rule.scope", "适用范围", "Scope"),
    ("rule.version", "版本", "Version"),
    ("rule.enabled", "启用", "Enabled"),
    ("rule.params", "阈值", "Thresholds"),
    ("system.users", "用户", "Users"),
    ("system.roles", "角色", "Roles"),
    ("system.positions", "岗位", "Positions"),
    ("system.regions", "区域", "Regions"),
    ("system.user", "用户", "User"),
    ("system.yes", "是", "Yes"),
    ("system.no", "否", "No"),
    ("system.done.saved", "已保存", "Saved"),
    ("system.done.unlocked", "已解除锁定", "Unlocked"),
    ("system.done.signed_out", "已强制下线", "Signed out everywhere"),
    ("user.q", "用户名或姓名", "User name or name"),
    ("user.username", "用户名", "User name"),
    ("user.display_name", "姓名", "Name"),
    ("user.new_phone", "新手机号（留空不变）", "New phone (empty keeps it)"),
    ("user.region", "所属区域", "Region"),
    ("user.role", "角色", "Role"),
    ("user.roles", "角色", "Roles"),
    ("user.position", "岗位", "Position"),
    ("user.positions", "岗位", "Positions"),
    ("user.active", "启用", "Active"),
    ("user.locked_until", "锁定至", "Locked until"),
    ("user.unlock", "解除锁定", "Unlock"),
    ("user.sign_out", "强制下线", "Sign out everywhere"),
    ("role.name", "角色名", "Role"),
    ("role.description", "说明", "Description"),
    ("role.permissions", "权限", "Permissions"),
    ("role.all", "全部权限", "Every permission"),
    ("position.code", "岗位代码", "Code"),
    ("position.name", "岗位名称", "Name"),
    ("position.description", "职责", "Description"),
    ("region.path", "层级路径", "Path"),
    ("region.code", "区域代码", "Code"),
    ("region.name", "区域名称", "Name"),
    ("region.level", "层级", "Level"),
    ("action.export_csv", "导出 CSV", "Export CSV"),
    ("action.export_xlsx", "导出 Excel", "Export Excel"),
    ("action.next_page", "下一页", "Next page"),
    ("action.first_page", "第一页", "First page"),
    ("list.total", "共", "Total"),
    ("login.title", "员工登录", "Staff sign-in"),
    ("login.username", "用户名", "User name"),
    ("login.password", "密码", "Password"),
    ("login.failed", "用户名或密码错误", "Wrong user name or password"),
    ("login.throttled", "尝试次数过多，请 {seconds} 秒后再试", "Too many tries: try again in {seconds} s"),
    ("login.expired", "登录页面已过期，请重新输入", "The sign-in page expired: enter your details again"),
    ("error.forbidden", "无权访问", "Not allowed"),
    (
        "error.forbidden_detail",
        "您没有打开此页面的权限，或该记录不在您的区域内。",
        "You may not open this page, or the record is outside your region.",
    ),
    ("error.not_found", "未找到", "Not found"),
    ("error.not_found_detail", "没有这个页面或记录。", "There is no such page or record."),
    ("error.invalid", "请求有误", "The request is not valid"),
    ("error.invalid_detail", "请检查输入后重试：", "Check what was entered and try again:"),
    ("error.failed", "出错了", "Something went wrong"),
    (
        "error.failed_detail",
        "请求未能完成，请稍后再试。已记录请求编号。",
        "The request could not be completed; try again later. The request id was logged.",
    ),
    ("error.csrf", "页面已过期", "The page has expired"),
    (
        "error.csrf_detail",
        "表单缺少有效的安全令牌，请刷新页面后重试。",
        "The form lacks a valid security token: reload the page and try again.",
    ),
    ("dashboard.title", "工作台", "Dashboard"),
    ("dashboard.alerts", "未处理告警", "Open alerts"),
    ("dashboard.buckets", "在贷合同（按逾期阶段）", "Active contracts by bucket"),
    ("dashboard.tasks", "催收与收车任务", "Collection and repossession tasks"),
    ("dashboard.trackers", "定位设备", "Trackers"),
    ("dashboard.reporting", "10 分钟内上报", "reported in the last 10 minutes"),
    ("dashboard.positions_per_second", "每秒定位（近 1 分钟）", "positions per second (last minute)"),
    ("dashboard.none", "暂无", "None"),
    ("field.severity", "级别", "Severity"),
    ("field.open", "未处理", "Open"),
    ("field.acknowledged", "已确认", "Acknowledged"),
    ("field.bucket", "逾期阶段", "Bucket"),
    ("field.contracts", "合同数", "Contracts"),
    ("field.overdue_amount", "逾期金额", "Overdue amount"),
    ("field.kind", "类型", "Kind"),
    ("field.mine", "我的", "Mine"),
    ("contract.title", "合同", "Contract"),
    ("contract.number", "合同编号", "Contract number"),
    ("contract.status", "状态", "Status"),
    ("contract.status.pending", "待放款", "Pending"),
    ("contract.status.active", "还款中", "Active"),
    ("contract.status.settled", "已结清", "Settled"),
    ("contract.status.closed", "已关闭", "Closed"),
    ("contract.principal", "融资金额", "Financed amount"),
    ("contract.start_date", "起租日", "Start date"),
    ("contract.dpd", "逾期天数", "Days past due"),
    ("contract.min_dpd", "逾期天数不少于", "At least days past due"),
    ("contract.last_payment_on", "最近还款日", "Last payment"),
    ("contract.penalty_open", "未付罚息", "Penalty unpaid"),
    ("contract.hold_until", "承诺还款至", "Promise to pay until"),
    ("contract.as_of", "数据日期", "Figures as of"),
    ("contract.credit", "客户余款", "Customer credit"),
    ("contract.deposit_held", "保证金", "Deposit held"),
    ("contract.lessee", "承租人", "Lessee"),
    ("customer.name", "姓名/名称", "Name"),
    ("customer.id_number", "证件号码", "ID number"),
    ("customer.phone", "手机号", "Phone"),
    ("contract.summary", "合同概要", "Summary"),
    ("contract.delinquency", "逾期情况", "Delinquency"),
    ("contract.money_held", "代管资金", "Money held"),
    ("contract.schedule", "还款计划", "Repayment schedule"),
    ("schedule.period", "期数", "Period"),
    ("schedule.due_date", "应还日", "Due date"),
    ("schedule.component", "科目", "Component"),
    ("schedule.amount", "应还", "Due"),
    ("schedule.paid", "已还", "Paid"),
    ("schedule.open", "未还", "Open"),
    ("component.principal", "本金", "Principal"),
    ("component.interest", "利息", "Interest"),
    ("component.fee", "费用", "Fee"),
    ("component.penalty", "罚息", "Penalty"),
    ("vehicle.title", "车辆", "Vehicle"),
    ("vehicle.plate", "车牌", "Plate"),
    ("vehicle.vin", "车架号", "VIN"),
    ("vehicle.model", "品牌车型", "Make and model"),
    ("vehicle.status", "状态", "Status"),
    ("vehicle.status.in_stock", "库存", "In stock"),
    ("vehicle.status.financed", "在贷", "Financed"),
    ("vehicle.status.repossessed", "已收回", "Repossessed"),
    ("vehicle.status.disposed", "已处置", "Disposed"),
    ("vehicle.status.released", "已解押", "Released"),
    ("vehicle.devices", "定位设备", "Trackers"),
    ("device.kind.wired", "有线", "Wired"),
    ("device.kind.wireless", "无线", "Wireless"),
    ("device.last_seen", "最近上报", "Last heard from"),
    ("device.last_fix", "最近定位", "Last fix"),
    ("device.no_fix", "无定位", "No fix"),
    ("device.invalid_fix", "未定位", "No satellite fix"),
    ("device.ignition_on", "点火", "Ignition on"),
    ("device.ignition_off", "熄火", "Ignition off"),
    ("command.command", "指令", "Command"),
    ("command.reason", "原因", "Reason"),
    ("command.requested", "申请时间", "Requested"),
    ("command.progress", "进度", "Progress"),
    ("command.request", "发送指令", "Send command"),
    ("command.locate_now", "立即定位", "Locate now"),
    ("command.engine_cut", "断油断电", "Engine cut"),
    ("command.engine_restore", "恢复油电", "Engine restore"),
    ("command.set_interval", "设置上报间隔", "Set reporting interval"),
    ("command.step.requested", "已申请", "Requested"),
    ("command.step.approved", "已审批", "Approved"),
    ("command.step.waiting_stop", "等待停车", "Waiting for a stop"),
    ("command.step.sent", "已下发", "Sent"),
    ("command.step.acknowledged", "设备已确认", "Acknowledged"),
    ("command.status.awaiting_approval", "待审批", "Awaiting approval"),
    ("command.status.queued", "排队中", "Queued"),
    ("command.status.waiting_stop", "等待停车", "Waiting for a stop"),
    ("command.status.sent", "已下发", "Sent"),
    ("command.status.acknowledged", "设备已确认", "Acknowledged"),
    ("command.status.failed", "失败", "Failed"),
    ("command.status.rejected", "审批未通过", "Rejected"),
    ("command.status.cancelled", "已取消", "Cancelled"),
    ("product.all_versions", "含历史版本", "Every version"),
    ("product.code", "产品编码", "Code"),
    ("product.version", "版本", "Version"),
    ("product.name", "产品名称", "Name"),
    ("product.created_at", "创建时间", "Created"),
    ("product.method", "还款方式", "Method"),
    ("product.method.equal_installment", "等额本息", "Equal installments"),
    ("product.method.equal_principal", "等额本金", "Equal principal"),
    ("product.method.flat", "平息", "Flat rate"),
    ("product.method.interest_first", "先息后本", "Interest first"),
    ("product.deposit_ratio", "保证金比例", "Deposit ratio"),
    ("product.residual_ratio", "残值比例", "Residual ratio"),
    ("product.rates", "费率表", "Rate table"),
    ("product.term", "期限（月）", "Term (months)"),
    ("product.min_down_payment", "首付比例不低于", "Down payment from"),
    ("product.annual_rate", "年利率", "Annual rate"),
    ("product.vehicle_type", "车辆类型", "Vehicle type"),
    ("product.any", "不限", "Any"),
    ("product.fees", "费用", "Fees"),
    ("product.financed", "融资", "Financed"),
    ("product.upfront", "首付时收取", "Paid upfront"),
    ("map.min_bucket", "逾期阶段", "Bucket"),
    ("map.alerting", "有未处理告警", "With open alerts"),
    ("map.vehicles", "辆车", "vehicles"),
    ("alert.status", "处理状态", "Status"),
    ("alert.status.unresolved", "未解决", "Unresolved"),
    ("alert.status.open", "未处理", "Open"),
    ("alert.status.acknowledged", "已确认", "Acknowledged"),
    ("alert.status.resolved", "已解决", "Resolved"),
    ("alert.min_severity", "最低级别", "At least"),
    ("alert.last_at", "最近发生", "Last seen"),
    ("alert.first_at", "首次发生", "First seen"),
    ("alert.title", "告警", "Alert"),
    ("alert.occurrences", "次数", "Times"),
    ("alert.resolution", "解决原因", "Resolution"),
    ("alert.note", "处理说明", "Note"),
    ("alert.acknowledge", "确认处理", "Acknowledge"),
    ("alert.resolve", "解决", "Resolve"),
    ("alert.action.opened", "产生", "Opened"),
    ("alert.action.repeated", "再次发生", "Repeated"),
    ("alert.action.escalated", "升级", "Escalated"),
    ("alert.action.acknowledged", "确认", "Acknowledged"),
    ("alert.action.resolved", "解决", "Resolved"),
    ("alert.action.closed", "自动关闭", "Closed"),
    ("search.title", "搜索", "Search"),
    (
        "search.placeholder",
        "合同号、车牌、车架号、IMEI、姓名、证件号、手机号",
        "Contract, plate, VIN, IMEI, name, ID or phone",
    ),
    ("search.nothing", "没有找到", "Nothing found for"),
    ("search.days", "天逾期", "days past due"),
    ("search.customers", "客户", "Customers"),
    ("dealer.q", "编码或名称", "Code or name"),
    ("dealer.code", "编码", "Code"),
    ("dealer.name", "名称", "Name"),
    ("dealer.tier", "等级", "Tier"),
    ("dealer.status", "状态", "Status"),
    ("dealer.status.active", "合作中", "Active"),
    ("dealer.status.suspended", "已暂停", "Suspended"),
    ("dealer.status.blacklisted", "黑名单", "Blacklisted"),
    ("dealer.status_reason", "原因", "Reason"),
    ("dealer.contact", "联系人", "Contact"),
    ("workflow.yes", "是", "Yes"),
    ("workflow.mine", "仅我认领的", "Claimed by me"),
    ("workflow.overdue", "已超时", "Overdue"),
    ("workflow.title", "事项", "Request"),
    ("workflow.subject", "业务对象", "Subject"),
    ("workflow.status", "流程状态", "Status"),
    ("workflow.status.active", "审批中", "In progress"),
    ("workflow.status.approved", "已通过", "Approved"),
    ("workflow.status.rejected", "已拒绝", "Rejected"),
    ("workflow.status.cancelled", "已撤销", "Cancelled"),
    ("workflow.stage", "环节", "Stage"),
    ("workflow.position", "岗位", "Position"),
    ("workflow.due_at", "时限", "Due"),
    ("workflow.created_at", "提交时间", "Submitted"),
    ("workflow.request", "申请", "Request"),
    ("workflow.decide", "处理", "Decide"),
    ("workflow.note", "意见", "Comment"),
    ("workflow.history", "审批记录", "History"),
    ("workflow.at", "时间", "When"),
    ("workflow.action", "操作", "Action"),
    ("workflow.actor", "处理人", "By"),
    ("workflow.maker_cannot_approve", "不能审批自己提交的申请", "You cannot approve a request you made"),
    ("workflow.action.submit", "提交", "Submitted"),
    ("workflow.action.claim", "认领", "Claimed"),
    ("workflow.action.approve", "同意", "Approve"),
    ("workflow.action.reject", "拒绝", "Reject"),
    ("workflow.action.return", "退回", "Return"),
    ("workflow.action.transfer", "转件", "Transfer"),
    ("workflow.action.note", "备注", "Note"),
    ("workflow.transfer_to", "转交给", "Transfer to"),
    ("workflow.transfer_to_whom", "请选择转交给谁", "Choose who takes the task"),
    ("workflow.action.cancel", "撤销", "Cancel"),
    ("severity.critical", "紧急", "Critical"),
    ("severity.high", "高", "High"),
    ("severity.medium", "中", "Medium"),
    ("severity.low", "低", "Low"),
    ("severity.info", "提示", "Info"),
    ("task.collection", "催收", "Collection"),
    ("task.repossession", "收车", "Repossession"),
    ("task.kind", "任务类型", "Kind"),
    ("task.kind.collection", "催收", "Collection"),
    ("task.kind.repossession", "收车", "Repossession"),
    ("task.status", "状态", "Status"),
    ("task.status.open", "待认领", "Open"),
    ("task.status.assigned", "处理中", "Assigned"),
    ("task.status.done", "已完成", "Done"),
    ("task.status.cancelled", "已取消", "Cancelled"),
    ("task.mine", "我的任务", "Mine"),
    ("task.group", "本组任务", "My group's"),
    ("task.yes", "是", "Yes"),
    ("task.created_at", "创建时间", "Created"),
    ("task.updated_at", "更新时间", "Updated"),
    ("task.assignee", "处理人", "Assignee"),
    ("task.position", "岗位", "Position"),
    ("task.note", "说明", "Note"),
    ("task.claim", "认领", "Claim"),
    ("task.outcome", "结果", "Outcome"),
    ("task.outcome_note", "处理情况", "What happened"),
    ("task.record", "登记结果", "Record outcome"),
    ("task.alerts", "来源告警", "Alerts it came from"),
    ("task.evidence", "证据", "Evidence"),
    ("contract.risk_score", "风险评分", "Risk score"),
    ("contract.vehicle", "车辆", "Vehicle"),
    ("contract.risk", "风险", "Risk"),
    ("contract.risk_none", "尚未评分", "Not scored yet"),
    ("contract.receipts", "收款记录", "Receipts"),
    ("contract.tasks", "催收与收车任务", "Collection and repossession tasks"),
    ("contract.trail", "操作记录", "Audit trail"),
    ("risk.band.low", "低", "Low"),
    ("risk.band.medium", "中", "Medium"),
    ("risk.band.high", "高", "High"),
    ("risk.reason.days_past_due", "逾期天数", "Days past due"),
    ("risk.reason.repossession_bucket", "进入收车账龄", "In a repossession bucket"),
    ("risk.reason.partial_payments", "部分还款", "Installments paid in part"),
    ("risk.reason.broken_promises", "承诺还款未兑现", "Broken promises to pay"),
    ("risk.reason.device_integrity", "设备异常告警", "Tracker integrity alerts"),
    ("risk.reason.risk_locations", "风险地点告警", "Risk-location alerts"),
    ("risk.reason.routine_breaks", "行为规律异常", "Breaks in routine"),
    ("risk.reason.silences", "设备失联", "Tracker silences"),
    ("receipt.received_on", "到账日", "Received on"),
    ("receipt.amount", "金额", "Amount"),
    ("receipt.reference", "银行流水号", "Bank reference"),
    ("receipt.payer", "付款人", "Payer"),
    ("receipt.status", "状态", "Status"),
    ("receipt.status.unclaimed", "未认领", "Unclaimed"),
    ("receipt.status.claimed", "已认领", "Claimed"),
    ("receipt.status.written_off", "已核销", "Written off"),
    ("receipt.status.reversed", "已冲正", "Reversed"),
    ("audit.at", "时间", "When"),
    ("audit.who", "操作人", "By"),
    ("audit.action", "操作", "Action"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_the_templates_use_is_in_the_catalogue_once() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            for used in text.split("t(\"").skip(1).map(|s| &s[..s.find('"').unwrap()]) {
                assert!(
                    MESSAGES.iter().any(|(k, _, _)| *k == used),
                    "{}: {used} is not in the catalogue",
                    path.display()
                );
            }
        }
        for (i, (key, _, _)) in MESSAGES.iter().enumerate() {
            assert!(!MESSAGES[i + 1..].iter().any(|(k, _, _)| k == key), "{key} twice");
        }
    }

    #[test]
    fn chinese_unless_english_is_chosen() {
        assert_eq!(Lang::default().t("nav.contracts"), "合同");
        assert_eq!(Lang::En.t("nav.contracts"), "Contracts");
        assert_eq!(Lang::En.t("no.such.key"), "no.such.key");
    }
}
