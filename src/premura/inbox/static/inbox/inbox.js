/* The inbox list: filters apply as they change, "select all" on the page, the bulk bar's state.
 * Keyboard movement (j/k, Enter/o, x) is premura.js's, through data-rows / data-row attributes. */
(function () {
  "use strict";

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("input[data-row-select]"));
  }

  function refresh() {
    var form = document.querySelector("[data-bulk]");
    if (!form) return;
    var all = boxes();
    var ticked = all.filter(function (b) { return b.checked; });
    var count = form.querySelector("[data-selected-count]");
    if (count) count.textContent = ticked.length ? ticked.length + " ✓" : "";
    form.classList.toggle("has-selection", ticked.length > 0);
    Array.prototype.forEach.call(form.querySelectorAll("[data-bulk-action]"), function (button) {
      button.disabled = ticked.length === 0;
    });
    var selectAll = form.querySelector("[data-select-all]");
    if (selectAll) {
      selectAll.checked = all.length > 0 && ticked.length === all.length;
      selectAll.indeterminate = ticked.length > 0 && ticked.length < all.length;
    }
    all.forEach(function (box) {
      var row = box.closest("[data-row]");
      if (row) row.classList.toggle("is-selected", box.checked);
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      boxes().forEach(function (box) { box.checked = target.checked; });
      refresh();
      return;
    }
    if (target.matches("input[data-row-select]")) { refresh(); return; }
    var form = target.closest && target.closest("form[data-autosubmit]");
    if (form && target.tagName === "SELECT") form.requestSubmit();
  });

  /* Enter in the label field adds the label (the form's first button would assign). */
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !event.target.matches || !event.target.matches("[data-bulk] input[name=label]")) return;
    event.preventDefault();
    var add = document.querySelector("[data-bulk] button[value=label_add]");
    if (add && !add.disabled) add.click();
  });

  document.addEventListener("htmx:afterSwap", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
})();
