// cake-recon's screen: the only script, and none of it is needed to use the page.
// 1. Uploads: a file dropped anywhere on the drop zone goes into the file field; a file over the
//    server's limit is refused here before it is sent.
// 2. A run's page: polls its progress every second and reloads when the run ends.
"use strict";
(function () {
  // The link's token is in a cookie now: out of the address bar and the history.
  if (/[?&]token=/.test(window.location.search)) {
    var u = new URL(window.location.href);
    u.searchParams.delete("token");
    window.history.replaceState(null, "", u.pathname + u.search + u.hash);
  }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }

  var input = document.getElementById("sheet");
  var drop = document.getElementById("drop");
  var tooBig = document.getElementById("too-big");
  function checkSize() {
    var max = Number(input.getAttribute("data-max"));
    var f = input.files && input.files[0];
    if (f && max && f.size > max) {
      tooBig.textContent = "\u201c" + f.name + "\u201d is " + fmt(Math.ceil(f.size / 1048576)) +
        " MB: larger than this server's limit of " + fmt(max / 1048576) +
        " MB. Split the sheet, or start the server with a larger --max-upload-mb.";
      tooBig.hidden = false;
      input.value = "";
      return false;
    }
    tooBig.hidden = true;
    return true;
  }
  if (input && drop) {
    input.addEventListener("change", checkSize);
    ["dragenter", "dragover"].forEach(function (e) {
      drop.addEventListener(e, function (ev) { ev.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (e) {
      drop.addEventListener(e, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (ev) {
      ev.preventDefault();
      if (ev.dataTransfer && ev.dataTransfer.files.length) {
        input.files = ev.dataTransfer.files;
        if (checkSize()) { input.form.requestSubmit(); }
      }
    });
  }

  // A page waiting for work on the server (a comparison with CAKE) reloads itself.
  var waiting = document.querySelector("[data-reload]");
  if (waiting) {
    setTimeout(function () { window.location.reload(); },
      1000 * Number(waiting.getAttribute("data-reload")));
  }

  var box = document.getElementById("progress");
  if (box) {
    var url = box.getAttribute("data-url");
    var tick = function () {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (p) {
        if (!p.running) { window.location.reload(); return; }
        document.getElementById("bar").max = p.valid || 1;
        document.getElementById("bar").value = p.done;
        document.getElementById("done").textContent = fmt(p.done);
        document.getElementById("valid").textContent = fmt(p.valid);
        document.getElementById("rate").textContent =
          p.rate == null ? "measuring the rate" : fmt(p.rate.toFixed(1)) + " rows/s";
        document.getElementById("eta").textContent =
          p.eta_seconds == null ? "" : p.eta_seconds < 90 ? "about " + fmt(p.eta_seconds) + " s left"
            : "about " + fmt(Math.ceil(p.eta_seconds / 60)) + " min left";
        var parts = Object.keys(p.by_status).map(function (k) { return k + " " + fmt(p.by_status[k]); });
        document.getElementById("statuses").textContent = parts.length ? parts.join(" · ") : "no row finished yet";
        setTimeout(tick, 1000);
      }).catch(function () { setTimeout(tick, 2000); });
    };
    setTimeout(tick, 500);
  }
})();
