/* Sign-in (password, then the one-time code when asked) and two-factor enrolment. */
"use strict";

(function () {
  const A = window.Arverne;
  A.forgetDevice();  // a session ended here: nothing of the last one stays on the device
  const form = document.getElementById("login-form");
  if (form) {
    const error = document.getElementById("login-error");
    const otpStep = document.getElementById("step-otp");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      const body = {
        username: document.getElementById("username").value.trim(),
        password: document.getElementById("password").value,
      };
      const otp = document.getElementById("otp").value.trim();
      if (!otpStep.hidden && otp) body.otp = otp;
      if (!body.username || !body.password) { error.textContent = A.t("auth.missing"); return; }
      button.disabled = true;
      error.textContent = "";
      try {
        const out = await A.api("POST", "/api/v1/auth/login", body);
        location.assign(out.mfa_setup_required ? "/mfa" : A.data.next || "/");
      } catch (e) {
        if (/one-time code|otp/i.test(e.message) && otpStep.hidden) {
          otpStep.hidden = false;
          error.textContent = A.t("auth.otp_needed");
          document.getElementById("otp").focus();
        } else {
          error.textContent = e.status === 401 ? A.t(otpStep.hidden ? "auth.failed" : "auth.failed_otp") : e.message;
        }
      } finally {
        button.disabled = false;
      }
    });
  }
  const start = document.getElementById("mfa-start");
  if (start) {
    start.addEventListener("click", async () => {
      try {
        const out = await A.api("POST", "/api/v1/auth/mfa/setup");
        document.getElementById("mfa-secret-value").textContent = out.secret;
        document.getElementById("mfa-uri").textContent = out.otpauth_uri;
        document.getElementById("mfa-secret").hidden = false;
        start.hidden = true;
        document.getElementById("mfa-otp").focus();
      } catch (e) { A.toast(e.message, "error"); }
    });
    document.getElementById("mfa-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await A.api("POST", "/api/v1/auth/mfa/confirm", { otp: document.getElementById("mfa-otp").value.trim() });
        await A.api("POST", "/api/v1/auth/logout");
        location.assign("/login?next=/");
      } catch (e) {
        document.getElementById("mfa-error").textContent = (e.errors[0] && e.errors[0].message) || e.message;
      }
    });
  }
})();
