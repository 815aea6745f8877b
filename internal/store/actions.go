package store

// The actions an AuditEvent records. Every action the code records is one
// of these, and is in AuditActions: the console offers them in its filter
// and shows each by its label (a test fails on a constant without one).
const (
	// A customer's sign-in and session.
	ActionSignIn         = "signin" // the second factor accepted: signed in
	ActionSignInPassword = "signin.password"
	ActionStepUp         = "session.stepup"
	ActionSignOut        = "signout"
	// Another browser of the account signed out from the security page.
	ActionSessionEndOther = "session.end_other"

	// Second factors.
	ActionMFATOTP     = "mfa.totp"
	ActionMFARecovery = "mfa.recovery"
	ActionMFAPhone    = "mfa.phone"
	ActionMFAEnrol    = "mfa.enrol"
	ActionMFAReset    = "mfa.reset"
	ActionPhoneSend   = "phone.send"
	ActionPhoneResend = "phone.resend"

	// Passwords and accounts.
	ActionPasswordResetRequest = "password.reset_request"
	ActionPasswordReset        = "password.reset"
	ActionPasswordChange       = "password.change" // on the security page, with the current password
	ActionAccountOpen          = "account.open"
	ActionAccountActivate      = "account.activate"
	ActionActivationResend     = "account.activation_resend"
	ActionAccountLock          = "account.lock"
	ActionAccountUnlock        = "account.unlock"
	ActionAccountErase         = "account.erase"
	ActionNotMe                = "security.not_me"

	// Recovery without a second factor, and resets an operator asks for.
	ActionRecoveryRequest = "recovery.request"
	ActionRecoveryConfirm = "recovery.confirm"
	ActionRecoveryCancel  = "recovery.cancel"
	// An early approval takes two operators: one proposes it (having
	// verified the customer), another approves or rejects it, or the
	// proposer withdraws it.
	ActionRecoveryPropose  = "recovery.propose"
	ActionRecoveryApprove  = "recovery.approve"
	ActionRecoveryReject   = "recovery.reject"
	ActionRecoveryWithdraw = "recovery.withdraw"

	ActionResetRequest  = "mfa.reset_request"
	ActionResetApprove  = "mfa.reset_approve"
	ActionResetReject   = "mfa.reset_reject"
	ActionResetWithdraw = "mfa.reset_withdraw"

	// The console and its operators.
	ActionConsoleSignIn          = "console.signin"
	ActionConsoleSignOut         = "console.signout"
	ActionConsoleReauth          = "console.reauth" // the code typed again before a dangerous action
	ActionOperatorCreate         = "operator.create"
	ActionOperatorDisable        = "operator.disable"
	ActionOperatorEnable         = "operator.enable"
	ActionOperatorReset2FA       = "operator.reset_2fa"
	ActionOperatorResetPassword  = "operator.reset_password"
	ActionOperatorPasswordChange = "operator.password_change"
	ActionOperatorList           = "operator.list"
	ActionAuditExport            = "audit.export"
	ActionMaintenanceCreate      = "maintenance.create"
	ActionMaintenanceCancel      = "maintenance.cancel"

	// OpenID Connect clients (tobira clients).
	ActionClientCreate       = "client.create"
	ActionClientUpdate       = "client.update"
	ActionClientRotateSecret = "client.rotate_secret"
	ActionClientDelete       = "client.delete"
)

// AuditActions are the actions above, in the order the console offers them.
var AuditActions = []string{
	ActionSignIn, ActionSignInPassword, ActionStepUp, ActionSignOut, ActionSessionEndOther,
	ActionMFATOTP, ActionMFARecovery, ActionMFAPhone, ActionMFAEnrol, ActionMFAReset, ActionPhoneSend, ActionPhoneResend,
	ActionPasswordResetRequest, ActionPasswordReset, ActionPasswordChange, ActionAccountOpen, ActionAccountActivate, ActionActivationResend,
	ActionAccountLock, ActionAccountUnlock, ActionAccountErase, ActionNotMe,
	ActionRecoveryRequest, ActionRecoveryConfirm, ActionRecoveryCancel,
	ActionRecoveryPropose, ActionRecoveryApprove, ActionRecoveryReject, ActionRecoveryWithdraw,
	ActionResetRequest, ActionResetApprove, ActionResetReject, ActionResetWithdraw,
	ActionConsoleSignIn, ActionConsoleSignOut, ActionConsoleReauth, ActionOperatorCreate, ActionOperatorDisable, ActionOperatorEnable,
	ActionOperatorReset2FA, ActionOperatorResetPassword, ActionOperatorPasswordChange, ActionOperatorList, ActionAuditExport, ActionMaintenanceCreate, ActionMaintenanceCancel,
	ActionClientCreate, ActionClientUpdate, ActionClientRotateSecret, ActionClientDelete,
}
