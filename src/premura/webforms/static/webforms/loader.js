/* Premura contact form: put <script src="https://premura.example/forms/SLUG/embed.js" async>
 * </script> where the form should appear. This script adds an iframe with the form right after
 * its own tag and keeps the iframe as tall as the form (the framed page reports its height).
 * Optional: data-lang="it" or "en" on the script tag chooses the language; otherwise the
 * visitor's browser decides. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var source = new URL(script.src);
  var path = source.pathname.replace(/\/embed\.js$/, "/embed");
  var frameUrl = new URL(path, source.origin);
  var lang = script.getAttribute("data-lang");
  if (lang === "it" || lang === "en") frameUrl.searchParams.set("lang", lang);

  var frame = document.createElement("iframe");
  frame.src = frameUrl.toString();
  frame.title = script.getAttribute("data-title") || "Contact form";
  frame.setAttribute("loading", "lazy");
  frame.className = "premura-contact-form";
  frame.style.width = "100%";
  frame.style.height = "640px";
  frame.style.border = "0";
  script.parentNode.insertBefore(frame, script.nextSibling);

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow || event.origin !== source.origin) return;
    var data = event.data;
    if (!data || data.premuraForm !== "height") return;
    var height = Number(data.height);
    if (isFinite(height) && height > 0 && height < 20000) frame.style.height = height + "px";
  });
})();
