// Live build log: while the build runs, poll the version's status and log; reload the
// page when it finishes so the record, audit and documents appear.
(function () {
  var log = document.getElementById("log");
  var status = document.getElementById("status");
  if (!log || !status || status.dataset.terminal === "true") return;
  function poll() {
    fetch(log.dataset.statusUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (s) {
      var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent = s.log;
      if (atEnd) log.scrollTop = log.scrollHeight;
      // A finished build: reload for the record, audit and documents. The status mark
      // changes only on the reloaded page, so what it shows is always the whole page.
      if (s.status === "succeeded" || s.status === "failed") { location.reload(); return; }
      status.textContent = s.status;
      status.className = "status s-" + s.status;
      setTimeout(poll, 1000);
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
