//! The permission catalogue: every permission a route can require, named `resource.action`.
//! It is written to the `permissions` table at start-up; roles are sets of these names.

/// Every permission, with what it allows.
pub const CATALOGUE: &[(&str, &str)] = &[
    ("users.read", "List and view users"),
    ("users.write", "Create and edit users, reset passwords, unlock accounts, revoke sessions"),
    ("roles.read", "List roles and the permission catalogue"),
    ("roles.write", "Create and edit roles"),
    ("positions.read", "List positions"),
    ("positions.write", "Create and edit positions"),
    ("regions.read", "List and view regions"),
    ("regions.write", "Create and edit regions"),
    ("settings.read", "View tunable settings"),
    ("settings.write", "Change tunable settings"),
    ("audit.read", "Query the audit log"),
    ("sensitive.reveal", "Reveal national ID, phone and bank card numbers in full (each reveal is audited)"),
    ("workflows.read", "View workflow definitions and instances"),
    ("workflows.manage", "Create and edit workflow definitions"),
    ("workflows.start", "Submit requests into a workflow"),
    ("workflows.act", "Claim and act on workflow tasks of one's positions"),
    ("calculator.quote", "Quote repayment schedules"),
    ("customers.read", "View customers (numbers masked)"),
    ("customers.write", "Register customers"),
    ("blacklist.read", "View the blacklist of people (黑名单), numbers masked"),
    ("blacklist.write", "Add people to the blacklist and lift them"),
    ("devices.read", "View quarantined devices"),
    ("devices.write", "Promote quarantined devices"),
    ("dealers.read", "View dealers"),
    ("dealers.write", "Add dealers and change their particulars"),
    ("dealers.manage", "Suspend, reinstate and blacklist dealers"),
    ("products.read", "View products and their versions"),
    ("products.write", "Create products and new versions"),
    ("vehicles.read", "View vehicles and their trackers"),
    ("vehicles.write", "Register vehicles, change their status, record installed trackers"),
    ("applications.read", "View applications, their documents, quotes and findings"),
    ("applications.write", "File applications: save drafts, add documents, submit"),
    ("scorecards.read", "View scorecards and their versions"),
    ("scorecards.write", "Add scorecard versions and choose the champion and the challenger"),
    ("contracts.read", "View contracts, their schedules, settlement quotes, reconciliation and payment status"),
    ("contracts.import", "Import books of contracts"),
    (
        "contracts.write",
        "Originate and activate contracts, settle early, record promises to pay, request deposit offsets",
    ),
    ("receipts.read", "View receipts and receiving accounts"),
    ("receipts.write", "Register and import receipts, claim and write them off, add receiving accounts"),
    ("alerts.read", "View alerts and their evidence, and stream them live"),
    ("alerts.act", "Acknowledge and resolve alerts"),
    ("monitor.read", "View monitor rules, thresholds, risk locations and geofences"),
    ("monitor.write", "Change rule thresholds, risk locations and geofences"),
    ("tasks.read", "View collection and repossession tasks"),
    ("tasks.write", "Create collection tasks from alerts, assign, complete and cancel tasks"),
    ("commands.read", "View commands sent to devices"),
    ("commands.send", "Request device commands (an engine cut also needs an approval)"),
    ("postloan.read", "View overdue customers, post-loan parameters and collection groups"),
    ("postloan.collect", "Record collection contacts (calls, messages, visits) and promises to pay"),
    ("postloan.configure", "Change post-loan parameters: collection states, categories, groups and their members"),
    (
        "postloan.repossess",
        "Keep repossession companies, open and dispatch repossession orders, register recoveries, ask for their fees",
    ),
    ("postloan.review", "Review recoveries and valuations registered by someone else"),
    ("postloan.dispose", "Hold, value and sell recovered vehicles, and settle what their sale leaves"),
];

/// Whether `name` is in the catalogue.
pub fn exists(name: &str) -> bool {
    CATALOGUE.iter().any(|(n, _)| *n == name)
}

/// Writes the catalogue to the database, removes permissions no longer in it, and grants every
/// permission to the built-in administrator role.
pub async fn sync(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let (names, descriptions): (Vec<&str>, Vec<&str>) = CATALOGUE.iter().copied().unzip();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO permissions (name, description) SELECT * FROM unnest($1::text[], $2::text[])
         ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description",
    )
    .bind(&names)
    .bind(&descriptions)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM permissions WHERE name <> ALL($1::text[])").bind(&names).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO role_permissions (role_id, permission)
         SELECT r.id, p.name FROM roles r CROSS JOIN permissions p WHERE r.builtin ON CONFLICT DO NOTHING",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_shaped_resource_dot_action() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        assert!(names.iter().all(|n| n.split('.').count() == 2 && n.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')));
    }
}
