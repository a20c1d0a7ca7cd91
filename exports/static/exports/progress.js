// Polls the export's small status view and moves the progress bar until the file is ready or failed.
(function () {
  var box = document.getElementById("export");
  if (!box) { return; }
  var byId = function (id) { return document.getElementById(id); };
  function show(data) {
    byId("export-status").textContent = data.status_label;
    byId("export-rows").textContent = data.rows_written;
    byId("export-total").textContent = data.rows_total;
    byId("export-progress").value = data.percent;
    if (data.error) { byId("export-error").textContent = data.error; byId("export-error").hidden = false; }
    if (data.download_url) {
      byId("download").href = data.download_url;
      byId("export-sha256").textContent = data.sha256;
      byId("export-size").textContent = data.size_bytes + " bytes";
      byId("export-counts").textContent = Object.keys(data.row_counts).map(function (kind) {
        return kind + ": " + data.row_counts[kind];
      }).join(", ");
      byId("export-ready").hidden = false;
    }
    return data.status === "done" || data.status === "failed";
  }
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) { if (!show(data)) { setTimeout(poll, 1000); } })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (box.dataset.finished !== "true") { poll(); }
})();
