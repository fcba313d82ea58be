/* The conversation page: keep the thread scrolled where the agent reads, switch the composer
 * between reply and private note (r / n), insert @mentions. Everything else is htmx and the
 * keyboard layer of premura.js. */
(function () {
  "use strict";

  var thread = document.getElementById("thread");
  if (!thread) return;

  function nearBottom() {
    return thread.scrollHeight - thread.scrollTop - thread.clientHeight < 150;
  }
  function toBottom() { thread.scrollTop = thread.scrollHeight; }

  /* An email's quoted history and signature are folded; one click shows the full message. */
  thread.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-toggle-quoted]") : null;
    if (!button) return;
    var message = button.closest(".message");
    var open = message.classList.toggle("show-quoted");
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? button.dataset.hideLabel : button.dataset.showLabel;
  });

  /* The newest messages first: the page opens at the bottom of the thread. */
  toBottom();

  var stick = false;
  var fromBottom = null;

  /* Older messages go above: keep what the agent is reading where it is. */
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id === "older") {
      fromBottom = thread.scrollHeight - thread.scrollTop;
    }
    /* Validation errors come back as 400/422 with the form and its messages: show them. */
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 400 || status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:afterSwap", function () {
    if (fromBottom !== null) {
      thread.scrollTop = thread.scrollHeight - fromBottom;
      fromBottom = null;
    }
  });

  /* New messages from polling: drop any already shown (two polls that crossed), and follow them
     if the agent was at the bottom. */
  document.body.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "thread-items") return;
    stick = nearBottom();
    var fragment = event.detail.fragment;
    Array.prototype.slice.call(fragment.children || []).forEach(function (child) {
      if (child.id && document.getElementById(child.id)) child.remove();
    });
  });
  document.body.addEventListener("htmx:oobAfterSwap", function (event) {
    if (stick && event.detail.target && event.detail.target.id === "thread-items") {
      toBottom();
      stick = false;
    }
  });

  /* Polling stops when the conversation is gone or no longer readable (403/404); a session that
     ended (redirected to the sign-in page) reloads the page, which then asks to sign in. */
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || elt.id !== "poller") return;
    var xhr = event.detail.xhr;
    if (!xhr) return;
    if (xhr.status === 403 || xhr.status === 404) {
      elt.remove();
    } else if (xhr.responseURL && xhr.responseURL.indexOf("/poll") === -1) {
      window.location.reload();
    }
  });

  /* Composer: reply or private note. */
  function setMode(mode, focus) {
    var form = document.getElementById("composer");
    if (!form) return;
    var radio = form.querySelector('input[name="mode"][value="' + mode + '"]');
    if (radio) radio.checked = true;
    form.classList.remove("mode-reply", "mode-note");
    form.classList.add("mode-" + mode);
    var text = form.querySelector("textarea[name=text]");
    if (text) {
      text.placeholder = text.getAttribute("data-placeholder-" + mode) || "";
      if (focus) text.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-compose-mode]");
    if (!button) return;
    event.preventDefault();
    setMode(button.getAttribute("data-compose-mode"), true);
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name === "mode" && target.closest("#composer")) setMode(target.value, false);
  });

  /* @mentions: picking an agent from the list writes "@handle " where the cursor was. */
  function insertMention(input) {
    var value = input.value.trim();
    var list = document.getElementById(input.getAttribute("list") || "");
    if (!list || !value) return;
    var known = Array.prototype.some.call(list.options, function (o) { return o.value === value; });
    if (!known) return;
    var text = document.querySelector("#composer textarea[name=text]");
    if (!text) return;
    var start = text.selectionStart == null ? text.value.length : text.selectionStart;
    var end = text.selectionEnd == null ? start : text.selectionEnd;
    var before = text.value.slice(0, start);
    var spacer = before && !/\s$/.test(before) ? " " : "";
    text.value = before + spacer + value + " " + text.value.slice(end);
    var caret = (before + spacer + value + " ").length;
    input.value = "";
    text.focus();
    text.setSelectionRange(caret, caret);
  }
  document.addEventListener("input", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-mention-pick")) {
      insertMention(event.target);
    }
  });
})();
