/* One's own account (mon compte), for every signed-in user: who the platform knows them
   as, a new password (given the current one; every session and token of the account ends,
   so they sign in again with it), the second factor (set up here, from an authenticator
   app; removed only by an administrator, for a lost phone) and their API tokens for
   programs (made here, the secret shown once; revoked with two presses). */
"use strict";

(function () {
  const A = window.Arverne, el = A.el;
  const $ = (id) => document.getElementById(id);

  /* Run `work` from a form's submit button; a refusal goes next to its fields (`prefix`). */
  async function submit(form, prefix, work) {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    A.showErrors(form, { errors: [], message: "" }, prefix);
    try {
      await work();
    } catch (err) {
      A.showErrors(form, err, prefix);
    } finally {
      button.disabled = false;
    }
  }

  async function loadMe() {
    const me = await A.api("GET", "/api/v1/auth/me");
    $("me-email").textContent = me.email || "—";
    $("me-roles").textContent = me.roles.map((r) => A.t(`role.${r}`)).join(", ");
    $("mfa-state").textContent = A.t(me.totp_enabled ? "account.mfa_on" : "account.mfa_off");
    $("mfa-begin").hidden = me.totp_enabled;
  }

  /* Password: checked here for the confirmation only; the rules are the server's. */
  const passwordForm = $("password-form");
  passwordForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = (id) => $(id).value;
    if (value("pw-new_password") !== value("pw-confirm")) {
      A.showErrors(passwordForm, { errors: [{ field: "confirm", message: A.t("account.mismatch") }] }, "err-pw-");
      return;
    }
    submit(passwordForm, "err-pw-", async () => {
      await A.api("POST", "/api/v1/auth/password",
        { current_password: value("pw-current_password"), new_password: value("pw-new_password") });
      location.assign("/login?changed=1");  // every session of the account has ended
    });
  });

  /* Second factor: a secret for the authenticator app, then its first code. */
  $("mfa-begin").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const setup = await A.api("POST", "/api/v1/auth/mfa/setup");
      $("mfa-secret-value").textContent = setup.secret;
      $("mfa-uri").textContent = setup.otpauth_uri;
      $("mfa-enrol").hidden = false;
      $("mfa-begin").hidden = true;
      $("mfa-code").focus();
    } catch (err) {
      A.toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  });
  const mfaForm = $("mfa-enrol");
  mfaForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(mfaForm, "err-mfa-", async () => {
      await A.api("POST", "/api/v1/auth/mfa/confirm", { otp: $("mfa-code").value.trim() });
      mfaForm.hidden = true;
      A.toast(A.t("account.mfa_enabled"), "ok");
      await loadMe();
    });
  });

  /* API tokens in use; a new one's secret is shown once, here. */
  async function loadTokens() {
    const list = $("my-tokens");
    const tokens = await A.api("GET", "/api/v1/auth/tokens");
    list.replaceChildren(...A.tokenItems(tokens, async (t, button) => {
      button.disabled = true;
      try {
        await A.api("DELETE", `/api/v1/auth/tokens/${t.id}`);
        A.toast(A.t("accounts.revoked", { name: t.name }), "ok");
        await loadTokens();
      } catch (err) {
        A.toast(err.message, "error");
        button.disabled = false;
      }
    }));
  }
  const tokenForm = $("token-form");
  tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(tokenForm, "err-tok-", async () => {
      const body = { name: $("tok-name").value.trim() };
      if ($("tok-days").value) body.days = Number($("tok-days").value);
      const made = await A.api("POST", "/api/v1/auth/tokens", body);
      $("token-secret").textContent = made.token;
      $("token-made").hidden = false;
      tokenForm.reset();
      await loadTokens();
    });
  });

  Promise.all([loadMe(), loadTokens()])
    .then(() => { document.body.dataset.ready = "1"; })
    .catch((err) => A.toast(err.message, "error"));
})();
