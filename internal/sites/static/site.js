// The sites' little script: the account menu on tap and Escape, and the
// invoice's 「印刷」 button. Every page works without it; the menu opens on
// hover and keyboard focus by CSS alone.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const menu of document.querySelectorAll("[data-account-menu]")) {
    const button = menu.querySelector("[data-account-button]");
    const set = (open) => {
      menu.classList.toggle("open", open);
      button.setAttribute("aria-expanded", String(open));
    };
    // A tap toggles. Closing must also beat the :hover and :focus-within
    // that the tap itself leaves on the icon, hence "dismissed".
    button.addEventListener("click", () => {
      const open = menu.classList.contains("dismissed") || !menu.classList.contains("open");
      menu.classList.toggle("dismissed", !open);
      set(open);
    });
    menu.addEventListener("mouseenter", () => {
      if (!menu.classList.contains("dismissed")) button.setAttribute("aria-expanded", "true");
    });
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
    // Escape closes the menu even while hovered or focused, and leaves the
    // keyboard on the icon.
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") return;
      if (!menu.classList.contains("open") && !menu.matches(":hover, :focus-within")) return;
      set(false);
      menu.classList.add("dismissed");
      if (menu.contains(document.activeElement)) button.focus();
    });
    // A tap elsewhere closes a menu a tap opened.
    document.addEventListener("click", (ev) => {
      if (menu.classList.contains("open") && !menu.contains(ev.target)) set(false);
    });
  }
  // 「印刷」: hidden without script, since it needs it.
  for (const btn of document.querySelectorAll("[data-print]")) {
    btn.hidden = false;
    btn.addEventListener("click", () => window.print());
  }
});
