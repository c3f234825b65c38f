/* The pages' small behaviours, bound by data attributes: no inline script or handler
   anywhere, so the Content-Security-Policy allows scripts from this site only. */
(function () {
  "use strict";

  function each(selector, fn, root) {
    Array.prototype.forEach.call((root || document).querySelectorAll(selector), fn);
  }

  // A select or field that submits its form when changed.
  each("[data-autosubmit]", function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  // A button that toggles a class on another element (the filters on a phone).
  each("[data-toggle-target]", function (el) {
    el.addEventListener("click", function () {
      var target = document.querySelector(el.dataset.toggleTarget);
      if (target) target.classList.toggle(el.dataset.toggleClass || "open");
    });
  });

  // A read-only field whose text is selected when tapped (share links).
  each("[data-select-on-click]", function (el) {
    el.addEventListener("click", function () { el.select(); });
  });

  // A button that copies another field's value.
  each("[data-copy-from]", function (el) {
    el.addEventListener("click", function () {
      var source = document.querySelector(el.dataset.copyFrom);
      if (source && navigator.clipboard) navigator.clipboard.writeText(source.value);
      if (el.dataset.copiedText) el.textContent = el.dataset.copiedText;
    });
  });

  each("[data-print]", function (el) {
    el.addEventListener("click", function () { window.print(); });
  });

  // A form that asks before it is sent.
  each("form[data-confirm]", function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // A form whose button is disabled once it is sent (no double payment by a double tap);
  // data-busy says what is happening while the answer comes.
  each("form[data-submit-once]", function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("[type=submit]");
      if (button) setTimeout(function () { button.disabled = true; }, 0);
      var note = form.querySelector(".busy-note");
      if (note && form.dataset.busy) { note.textContent = form.dataset.busy; note.hidden = false; }
    });
  });

  // Test cards of the local card server: a tap fills the card form.
  each(".testcard[data-number]", function (button) {
    button.addEventListener("click", function () {
      var number = document.getElementById("id_number");
      var exp = document.getElementById("id_exp");
      var cvc = document.getElementById("id_cvc");
      if (number) number.value = button.dataset.number;
      if (exp && !exp.value) exp.value = "12/34";
      if (cvc && !cvc.value) cvc.value = "123";
    });
  });

  // Progress of a long run (settlement, scoring): poll its JSON, fill [data-key] fields,
  // reload when it has finished.
  each("[data-progress-url]", function (box) {
    var bar = box.querySelector(".st-progress");
    function poll() {
      fetch(box.dataset.progressUrl, {headers: {"Accept": "application/json"},
                                      credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p) { setTimeout(poll, 2000); return; }
          // A page drawn for another state (waiting, running) is drawn again for the new one.
          if (box.dataset.status && p.status !== box.dataset.status) {
            window.location.reload();
            return;
          }
          each("[data-key]", function (el) {
            if (p[el.dataset.key] !== undefined) el.textContent = p[el.dataset.key];
          });
          if (bar && bar.firstElementChild) {
            bar.firstElementChild.style.width = p.percent + "%";
            bar.setAttribute("aria-valuenow", p.percent);
          }
          if (p.status === "pending" || p.status === "running") setTimeout(poll, 2000);
          else window.location.reload();
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    setTimeout(poll, 2000);
  });

  // Address book: the region's selects, each filled with the divisions under the one
  // chosen above it (GET /api/v1/divisions/?parent=code).
  each("form[data-divisions-url]", function (form) {
    var selects = Array.prototype.slice.call(form.querySelectorAll("select[data-division-level]"));
    function clearFrom(index) {
      selects.slice(index).forEach(function (select) {
        select.length = 1;
        select.closest(".division-level").hidden = true;
      });
    }
    selects.forEach(function (select, index) {
      select.addEventListener("change", function () {
        clearFrom(index + 1);
        var next = selects[index + 1];
        if (!select.value || !next) return;
        fetch(form.dataset.divisionsUrl + "?parent=" + encodeURIComponent(select.value),
              {headers: {"Accept": "application/json"}, credentials: "same-origin"})
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (rows) {
            rows.forEach(function (row) { next.add(new Option(row.name, row.code)); });
            if (rows.length) next.closest(".division-level").hidden = false;
          });
      });
    });
  });

  // Checkout: the delivery fee and the total follow the pickup/delivery choices.
  each("form[data-checkout-goods]", function (form) {
    var goods = parseFloat(form.dataset.checkoutGoods);
    function refresh() {
      var ship = 0;
      each(".shopgroup", function (group) {
        var pickup = group.querySelector("input[value=pickup]");
        if (!pickup || !pickup.checked) ship += parseFloat(group.dataset.fee || "0");
      }, form);
      var shipTotal = document.getElementById("ship-total");
      var grandTotal = document.getElementById("grand-total");
      if (shipTotal) shipTotal.textContent = ship.toFixed(2);
      if (grandTotal) grandTotal.textContent = (goods + ship).toFixed(2);
    }
    form.addEventListener("change", function (event) {
      if (event.target.name && event.target.name.indexOf("branch_") === 0) {
        var pickup = event.target.closest("fieldset").querySelector("input[value=pickup]");
        if (pickup) pickup.checked = true;
      }
      refresh();
    });
    refresh();
  });
})();
