// chanjiao: the self-assessment updates as facts are entered. The page works without this script.
"use strict";
(function () {
  var form = document.getElementById("self-form");
  if (!form) return;
  var timer = null, seq = 0;
  function update() {
    var mine = ++seq;
    var body = new FormData(form);
    fetch("/self/update", { method: "POST", body: body, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || mine !== seq) return;
        var results = document.getElementById("results");
        if (results) results.outerHTML = data.html;
        var rows = form.querySelectorAll("[data-field]");
        for (var i = 0; i < rows.length; i++) {
          var name = rows[i].getAttribute("data-field");
          var input = rows[i].querySelector("input,select");
          var filled = input && input.value !== "";
          rows[i].hidden = data.show.indexOf(name) < 0 && !filled;
          rows[i].classList.toggle("asked", data.ask.indexOf(name) >= 0 && !filled);
        }
        document.body.setAttribute("data-updated", String(mine));
      })
      .catch(function () { /* the button still posts the form */ });
  }
  function soon(delay) { clearTimeout(timer); timer = setTimeout(update, delay); }
  form.addEventListener("input", function () { soon(400); });
  form.addEventListener("change", function (e) {
    if (e.target && e.target.id === "pack") {
      var opt = e.target.options[e.target.selectedIndex];
      var region = document.getElementById("f-region_code");
      if (region && opt && opt.getAttribute("data-region")) region.value = opt.getAttribute("data-region");
    }
    soon(50);
  });
})();
