/* A form came back with errors: move focus to its summary, so a screen
   reader reads it at once and the keyboard starts from it; a link in the
   summary moves focus to its field (a fragment link alone only scrolls).
   Loaded by the summary itself, so it runs on pages that show one. */
"use strict";
(() => {
  if (window.portalErrorSummary) return;  // one summary script per page, however many summaries
  window.portalErrorSummary = true;
  const summary = document.querySelector(".error-summary");
  if (!summary) return;
  summary.focus();
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    const target = link && document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!target) return;
    event.preventDefault();
    // A group of radios or checkboxes (its fieldset): its first box.
    const field = target.matches("input, select, textarea") ? target : target.querySelector("input, select, textarea");
    const label = field && document.querySelector(`label[for="${CSS.escape(field.id)}"]`);
    (target.closest("fieldset") || label || target).scrollIntoView();
    (field || target).focus({ preventScroll: true });
  });
})();
