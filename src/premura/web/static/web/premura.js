/* Premura's keyboard layer: a little vanilla JavaScript over server-rendered pages.
 *
 * Pages declare what keys do with attributes, so templates stay the single source of truth:
 *   data-key="e"          a button or link is clicked, a field focused, a <details> opened
 *   data-rows             a list whose [data-row] children j/k move through (Enter/o opens the
 *                         row's a[data-row-link], x ticks its input[data-row-select])
 *   data-palette-open     opens the command palette (Ctrl+K / ⌘K)
 *   data-shortcuts-open   opens the list of shortcuts (?)
 * Keys are ignored while typing in a field, except Escape (leave the field) and Ctrl+Enter
 * (submit the field's form).
 */
(function () {
  "use strict";

  function isTyping(target) {
    if (!target || !target.closest) return false;
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag === "INPUT") {
      var type = (target.type || "text").toLowerCase();
      return ["checkbox", "radio", "button", "submit", "reset"].indexOf(type) === -1;
    }
    return false;
  }

  function visible(el) {
    return !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  }

  function keyName(event) {
    var key = event.key;
    if (event.ctrlKey || event.metaKey) return "ctrl+" + key.toLowerCase();
    return key;
  }

  function activate(el) {
    var tag = el.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") {
      el.focus();
      if (el.select && tag === "INPUT" && el.type === "search") el.select();
      return;
    }
    if (tag === "DETAILS") {
      el.open = true;
      var field = el.querySelector("input:not([type=hidden]), select, textarea, button, a");
      if (field) field.focus();
      return;
    }
    el.click();
  }

  /* --- rows: j/k, Enter/o, x -------------------------------------------------------------- */

  function rows() {
    var list = document.querySelector("[data-rows]");
    return list ? Array.prototype.slice.call(list.querySelectorAll("[data-row]")) : [];
  }

  function currentRow(all) {
    for (var i = 0; i < all.length; i++) {
      if (all[i].classList.contains("is-current")) return i;
    }
    var active = document.activeElement;
    for (var j = 0; j < all.length; j++) {
      if (all[j] === active || all[j].contains(active)) return j;
    }
    return -1;
  }

  function moveTo(all, index) {
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (row) {
      row.classList.remove("is-current");
      row.removeAttribute("aria-current");
    });
    var row = all[index];
    row.classList.add("is-current");
    row.setAttribute("aria-current", "true");
    if (!row.hasAttribute("tabindex")) row.setAttribute("tabindex", "-1");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function rowKey(key) {
    var all = rows();
    if (!all.length) return false;
    var index = currentRow(all);
    if (key === "j") { moveTo(all, index + 1); return true; }
    if (key === "k") { moveTo(all, index < 0 ? 0 : index - 1); return true; }
    if (index < 0) return false;
    var row = all[index];
    if (key === "Enter" || key === "o") {
      var link = row.querySelector("a[data-row-link]") || row.querySelector("a[href]");
      if (link) { link.click(); return true; }
    }
    if (key === "x") {
      var box = row.querySelector("input[data-row-select]");
      if (box) { box.click(); return true; }
    }
    return false;
  }

  /* --- dialogs: palette and shortcuts ----------------------------------------------------- */

  function openDialog(id) {
    var dialog = document.getElementById(id);
    if (!dialog || dialog.open) return;
    dialog.showModal();
    var field = dialog.querySelector("input");
    if (field) { field.value = ""; field.focus(); }
    if (id === "palette" && window.htmx && field) window.htmx.trigger(field, "input");
  }

  function paletteKeys(event) {
    var dialog = document.getElementById("palette");
    if (!dialog || !dialog.open) return false;
    var links = Array.prototype.slice.call(dialog.querySelectorAll("#palette-results a"));
    if (!links.length) return false;
    var index = links.indexOf(dialog.querySelector("#palette-results a.is-current"));
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      index = event.key === "ArrowDown" ? index + 1 : index - 1;
      index = (index + links.length) % links.length;
      links.forEach(function (a) { a.classList.remove("is-current"); a.removeAttribute("aria-selected"); });
      links[index].classList.add("is-current");
      links[index].setAttribute("aria-selected", "true");
      links[index].scrollIntoView({ block: "nearest" });
      return true;
    }
    if (event.key === "Enter") {
      (links[index] || links[0]).click();
      return true;
    }
    return false;
  }

  /* --- the one key handler ----------------------------------------------------------------- */

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing || event.altKey) return;
    var key = keyName(event);
    var target = event.target;

    if (key === "ctrl+k") {
      event.preventDefault();
      openDialog("palette");
      return;
    }
    if (paletteKeys(event)) { event.preventDefault(); return; }
    if (key === "ctrl+Enter" || key === "ctrl+enter") {
      var form = target && target.closest ? target.closest("form") : null;
      if (form && isTyping(target)) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (isTyping(target)) {
      if (key === "Escape") target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey) return;
    if (document.querySelector("dialog[open]")) return;

    if (key === "?") { event.preventDefault(); openDialog("shortcuts"); return; }
    if (rowKey(key)) { event.preventDefault(); return; }

    var candidates = document.querySelectorAll('[data-key="' + (key === '"' ? '\\"' : key) + '"]');
    for (var i = 0; i < candidates.length; i++) {
      var el = candidates[i];
      if (el.disabled || (!visible(el) && el.tagName !== "DETAILS")) continue;
      event.preventDefault();
      activate(el);
      return;
    }
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-palette-open], [data-shortcuts-open]");
    if (!opener) return;
    event.preventDefault();
    openDialog(opener.hasAttribute("data-palette-open") ? "palette" : "shortcuts");
  });

  /* A dialog closes when its backdrop is clicked. */
  document.addEventListener("click", function (event) {
    if (event.target.tagName === "DIALOG" && event.target.open) event.target.close();
  });

  /* Rows become current when clicked or focused with Tab, so j/k continue from there. */
  document.addEventListener("focusin", function (event) {
    var row = event.target.closest && event.target.closest("[data-rows] [data-row]");
    if (!row) return;
    rows().forEach(function (r) { if (r !== row) { r.classList.remove("is-current"); r.removeAttribute("aria-current"); } });
    row.classList.add("is-current");
    row.setAttribute("aria-current", "true");
  });

  window.Premura = { isTyping: isTyping, openDialog: openDialog };
})();
