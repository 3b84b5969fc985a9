/* Tend: small page behaviours. Loaded with `defer` under `script-src 'self'` (no inline script).
 *
 *  - toasts: auto-dismiss non-error messages, close button, pause while hovered or focused
 *  - mobile navigation: [data-nav-toggle] opens/closes the sidebar; Escape or the scrim closes it
 *  - dropdowns: <details class="dropdown"> close on outside click and on Escape
 *  - confirm: a form (or its submit button) with data-confirm="..." asks before submitting
 *  - copy: [data-copy-text="..."] or [data-copy-target="#id"] copies to the clipboard
 *  - print: [data-print] prints the page
 */
(function () {
  "use strict";

  var TOAST_MS = 6000;

  function dismissToast(toast) {
    if (!toast || toast.classList.contains("toast--leaving")) return;
    toast.classList.add("toast--leaving");
    window.setTimeout(function () {
      if (toast.parentNode) toast.parentNode.removeChild(toast);
    }, 220);
  }

  function bindToast(toast) {
    if (toast.dataset.bound) return;
    toast.dataset.bound = "1";
    var close = toast.querySelector("[data-dismiss]");
    if (close) {
      close.addEventListener("click", function () {
        dismissToast(toast);
      });
    }
    if (toast.dataset.sticky !== undefined) return; // errors stay until dismissed
    var timer = null;
    var start = function () {
      timer = window.setTimeout(function () {
        dismissToast(toast);
      }, TOAST_MS);
    };
    var stop = function () {
      if (timer) window.clearTimeout(timer);
      timer = null;
    };
    toast.addEventListener("mouseenter", stop);
    toast.addEventListener("mouseleave", start);
    toast.addEventListener("focusin", stop);
    toast.addEventListener("focusout", start);
    start();
  }

  function initToasts(root) {
    (root || document).querySelectorAll(".toast").forEach(bindToast);
  }

  function setNav(open) {
    document.body.classList.toggle("nav-open", open);
    document.querySelectorAll("[data-nav-toggle]").forEach(function (btn) {
      btn.setAttribute("aria-expanded", open ? "true" : "false");
    });
    if (open) {
      var first = document.querySelector("#sidebar a, #sidebar button");
      if (first) first.focus();
    }
  }

  function closeDropdowns(except) {
    document.querySelectorAll("details.dropdown[open]").forEach(function (d) {
      if (d !== except) d.removeAttribute("open");
    });
  }

  function copyText(text, button) {
    var done = function () {
      if (!button) return;
      var label = button.querySelector("[data-copy-label]") || button;
      var original = label.textContent;
      label.textContent = "Copied";
      button.classList.add("is-copied");
      window.setTimeout(function () {
        label.textContent = original;
        button.classList.remove("is-copied");
      }, 1600);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        fallbackCopy(text);
        done();
      });
    } else {
      fallbackCopy(text);
      done();
    }
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "sr-only";
    document.body.appendChild(area);
    area.select();
    try {
      document.execCommand("copy");
    } catch (e) {
      /* nothing else to try */
    }
    document.body.removeChild(area);
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;

    var toggle = target.closest("[data-nav-toggle]");
    if (toggle) {
      setNav(!document.body.classList.contains("nav-open"));
      return;
    }
    if (target.closest("[data-nav-close]")) {
      setNav(false);
      return;
    }

    var copy = target.closest("[data-copy-text], [data-copy-target]");
    if (copy) {
      var text = copy.getAttribute("data-copy-text");
      if (text === null) {
        var source = document.querySelector(copy.getAttribute("data-copy-target"));
        if (source) {
          text = source.tagName === "INPUT" || source.tagName === "TEXTAREA" ? source.value : source.innerText;
        }
      }
      copyText((text || "").trim(), copy);
      return;
    }

    if (target.closest("[data-print]")) {
      window.print();
      return;
    }

    var inDropdown = target.closest("details.dropdown");
    closeDropdowns(inDropdown);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details.dropdown[open]");
    if (open) {
      open.removeAttribute("open");
      var summary = open.querySelector("summary");
      if (summary) summary.focus();
      return;
    }
    if (document.body.classList.contains("nav-open")) {
      setNav(false);
      var toggle = document.querySelector("[data-nav-toggle]");
      if (toggle) toggle.focus();
    }
  });

  // Confirm before destructive submits: <form data-confirm="..."> or <button data-confirm="...">.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      var submitter = event.submitter;
      var message = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
      if (message && !window.confirm(message)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );

  // htmx asks the same question for hx-confirm; nothing to do here. Re-bind toasts after swaps.
  document.addEventListener("htmx:afterSwap", function (event) {
    initToasts(event.target);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      initToasts(document);
    });
  } else {
    initToasts(document);
  }
})();
