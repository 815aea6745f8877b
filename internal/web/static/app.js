// Tobira's little script: every flow works without it; it adds the copy
// button, the recovery screen's checkbox gate, the reset dialog, and the
// account menu on tap.
"use strict";
// A page sends its form once (below).
let sending = false;
// A page got by GET that the back or forward button brings back from the
// browser's memory is asked for again: it shows what is true now (after a
// reset, not the reset's confirmation).
window.addEventListener("pageshow", (ev) => {
  sending = false;
  if (ev.persisted && document.body.hasAttribute("data-refetch")) location.reload();
});
// A page sends its form once. A second click of 「続ける」 while the first
// request is on its way (a double click, an impatient tap) sent the form
// again, and the browser showed only the second answer: at the recovery
// code's input, a refusal, while the first request had spent the code and
// issued the new one, which was never shown. The page the back button
// brings back may send again (pageshow), and so may a page whose request
// was stopped (the browser's stop button tells the page nothing) after a
// while.
document.addEventListener("submit", (ev) => {
  if (ev.defaultPrevented) return; // not sent: a later click may send it
  if (sending) {
    ev.preventDefault();
    return;
  }
  sending = true;
  setTimeout(() => { sending = false; }, 10000);
});
document.addEventListener("DOMContentLoaded", () => {
  // 「コードのコピー」 and 「キーのコピー」
  for (const btn of document.querySelectorAll("[data-copy]")) {
    if (!navigator.clipboard) continue;
    btn.hidden = false;
    btn.addEventListener("click", async () => {
      let text = document.getElementById(btn.dataset.copy).textContent.trim();
      // The key shows in groups of four; the apps take it without spaces.
      if ("copyCompact" in btn.dataset) text = text.replace(/\s+/g, "");
      const status = btn.parentElement.querySelector(".copied");
      try {
        await navigator.clipboard.writeText(text);
        if (status) status.textContent = btn.dataset.copied;
      } catch (e) { /* the code stays on screen to copy by hand */ }
    });
  }
  // 「続ける」 waits for 「コードを安全に記録しました」; the server checks too.
  for (const form of document.querySelectorAll("form[data-require-check]")) {
    const box = form.querySelector("input[type=checkbox]");
    const submit = form.querySelector("button[type=submit]");
    const sync = () => { submit.disabled = !box.checked; };
    box.addEventListener("change", sync);
    sync();
  }
  // 「再送信」 waits as long as the server will: the page says how long, and
  // a line counts down the last minute in seconds. A longer wait (a sending
  // limit) the page writes as a time of day, which the line keeps till then.
  const resend = document.querySelectorAll("[data-resend-wait]");
  const countdown = document.querySelector("[data-resend-countdown]");
  let left = resend.length ? parseInt(resend[0].dataset.resendWait, 10) || 0 : 0;
  if (left > 0) {
    const show = () => {
      for (const btn of resend) btn.disabled = left > 0;
      if (countdown && left <= 60) countdown.textContent = left > 0 ? countdown.dataset.resendCountdown.replace("{0}", left) : "";
    };
    show();
    const timer = setInterval(() => {
      left -= 1;
      show();
      if (left <= 0) clearInterval(timer);
    }, 1000);
  }
  // The country picker: typing in the search box narrows the list to the
  // countries whose label (name, region, +code) contains the text.
  for (const box of document.querySelectorAll("[data-filter-for]")) {
    const select = document.getElementById(box.dataset.filterFor);
    const input = box.querySelector("input");
    const options = Array.from(select.options);
    box.hidden = false;
    input.addEventListener("input", () => {
      const q = input.value.trim().toLowerCase();
      let first = null;
      for (const o of options) {
        const show = q === "" || o.text.toLowerCase().includes(q);
        o.hidden = !show;
        o.disabled = !show;
        if (show && !first) first = o;
      }
      if (first && select.selectedOptions[0] && select.selectedOptions[0].hidden) first.selected = true;
    });
  }
  // The reset confirmation as a dialog; without script the link opens a page.
  for (const link of document.querySelectorAll("[data-open-dialog]")) {
    const dialog = document.getElementById(link.dataset.openDialog);
    if (!dialog || !dialog.showModal) continue;
    link.addEventListener("click", (ev) => { ev.preventDefault(); dialog.showModal(); });
    for (const close of dialog.querySelectorAll("[data-close-dialog]")) {
      close.addEventListener("click", () => dialog.close());
    }
  }
  // The account menu opens on hover and focus by CSS; a tap toggles it and
  // Escape dismisses it until the pointer or focus leaves.
  for (const menu of document.querySelectorAll("[data-account-menu]")) {
    const button = menu.querySelector("[data-account-button]");
    const set = (open) => {
      menu.classList.toggle("open", open);
      button.setAttribute("aria-expanded", String(open));
    };
    // A tap toggles: closing must also beat the hover and focus that the
    // tap itself left on the icon.
    button.addEventListener("click", () => {
      const open = menu.classList.contains("dismissed") || !menu.classList.contains("open");
      menu.classList.toggle("dismissed", !open);
      set(open);
    });
    menu.addEventListener("mouseenter", () => button.setAttribute("aria-expanded", "true"));
    menu.addEventListener("mouseleave", () => {
      menu.classList.remove("dismissed");
      if (!menu.classList.contains("open") && !menu.contains(document.activeElement)) button.setAttribute("aria-expanded", "false");
    });
    menu.addEventListener("focusin", () => {
      if (!menu.classList.contains("dismissed")) button.setAttribute("aria-expanded", "true");
    });
    menu.addEventListener("focusout", (ev) => {
      if (!menu.contains(ev.relatedTarget)) { menu.classList.remove("dismissed"); set(false); }
    });
    menu.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") return;
      set(false);
      menu.classList.add("dismissed");
      button.focus();
    });
  }
});
