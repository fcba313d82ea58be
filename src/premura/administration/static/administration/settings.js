/* Settings pages: copy buttons for secrets and examples, colour swatches for labels.
 *   data-copy="#id"        copies the value (or text) of that element to the clipboard
 *   data-select-on-focus   selects a read-only field's whole value when it gets focus
 *   data-swatch="#rrggbb"  paints the element in that colour (through the CSSOM: the
 *                          Content-Security-Policy forbids inline style attributes)
 */
(function () {
  "use strict";

  var HEX = /^#[0-9a-fA-F]{6}$/;

  function paintSwatches(root) {
    root.querySelectorAll("[data-swatch]").forEach(function (el) {
      var colour = el.getAttribute("data-swatch");
      if (HEX.test(colour)) el.style.backgroundColor = colour;
    });
  }

  function copy(button) {
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) return;
    var text = "value" in target && target.tagName !== "PRE" ? target.value : target.textContent;
    var done = function () {
      button.classList.add("is-copied");
      setTimeout(function () { button.classList.remove("is-copied"); }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(target); });
    } else {
      selectText(target);
    }
  }

  function selectText(target) {
    if (target.select) { target.focus(); target.select(); return; }
    var range = document.createRange();
    range.selectNodeContents(target);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (button) { event.preventDefault(); copy(button); }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-select-on-focus")) {
      event.target.select();
    }
  });

  // The label form's colour picker repaints the page's swatch as the admin chooses.
  document.addEventListener("input", function (event) {
    if (event.target.type === "color") {
      document.querySelectorAll("h1 [data-swatch]").forEach(function (el) {
        el.setAttribute("data-swatch", event.target.value);
      });
      paintSwatches(document);
    }
  });

  function ready() { paintSwatches(document); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
