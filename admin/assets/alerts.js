// The alert board's live feed: alert changes of the user's region arrive as Server-Sent Events;
// a new or escalated alert is put at the top of the list, a resolved or closed one leaves it.
(function () {
  const body = document.querySelector("main table tbody");
  if (!body || !window.EventSource) return;
  const zh = document.documentElement.lang.startsWith("zh");
  const severities = zh
    ? { critical: "紧急", high: "高", medium: "中", low: "低", info: "提示" }
    : { critical: "Critical", high: "High", medium: "Medium", low: "Low", info: "Info" };
  const statuses = zh
    ? { open: "未处理", acknowledged: "已确认", resolved: "已解决" }
    : { open: "Open", acknowledged: "Acknowledged", resolved: "Resolved" };
  const rowOf = (id) => body.querySelector('a[href="/alerts/' + id + '"]')?.closest("tr");
  const cell = (text) => {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  };

  function show(alert) {
    rowOf(alert.id)?.remove();
    const row = document.createElement("tr");
    row.className = "fresh";
    row.dataset.alert = String(alert.id);
    const title = document.createElement("td");
    const link = document.createElement("a");
    link.href = "/alerts/" + alert.id;
    link.textContent = alert.title;
    title.append(link);
    const count = cell("");
    count.className = "num";
    row.append(cell(new Date().toLocaleString()), cell(severities[alert.severity] || alert.severity), title,
      cell(statuses[alert.status] || alert.status), count);
    body.prepend(row);
  }

  const source = new EventSource("/alerts/stream");
  for (const kind of ["opened", "escalated"]) {
    source.addEventListener(kind, (event) => show(JSON.parse(event.data)));
  }
  for (const kind of ["resolved", "closed"]) {
    source.addEventListener(kind, (event) => rowOf(JSON.parse(event.data).id)?.remove());
  }
  source.addEventListener("acknowledged", (event) => {
    const alert = JSON.parse(event.data);
    const row = rowOf(alert.id);
    if (row) row.children[3].textContent = statuses.acknowledged;
  });
})();
