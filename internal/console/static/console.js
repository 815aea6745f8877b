// Tobira's operator console. A form with data-confirm asks before it is
// sent: the actions a stray tap must not take (disabling an operator, a new
// authenticator key or password, approving a reset or a recovery,
// cancelling maintenance). Answered yes, the form carries confirmed=1, the
// field the server runs these actions for; without script the server asks
// instead, with a confirmation page of its own (confirm.go).
"use strict";

document.addEventListener("submit", (e) => {
  const form = e.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) {
    return;
  }
  if (!window.confirm(form.dataset.confirm)) {
    e.preventDefault();
    return;
  }
  // The form's data is read after this event, so the field goes with it.
  if (!form.querySelector('input[name="confirmed"]')) {
    const field = document.createElement("input");
    field.type = "hidden";
    field.name = "confirmed";
    field.value = "1";
    form.append(field);
  }
});
