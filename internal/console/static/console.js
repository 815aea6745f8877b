// Tobira's operator console. A form with data-confirm asks before it is
// sent: the actions a stray tap must not take (disabling an operator, a new
// authenticator key or password, approving a reset or a recovery,
// cancelling maintenance). Without script the form is sent at once, as
// before; the server checks everything either way.
"use strict";

document.addEventListener("submit", (e) => {
  const form = e.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) {
    return;
  }
  if (!window.confirm(form.dataset.confirm)) {
    e.preventDefault();
  }
});
