# Tollgate's pages in English. Every message here must also be in
# zh-CN/main.ftl (a unit test checks both files and the templates).
# Messages under "Sentences handlers pass" are found by their English
# text (i18n::tr): change such a text here and in the handler together.

## Page frame
lang = en
# The product name in every page heading and title ([branding] product_name).
product-name = Tollgate
lang-switch-label = Language
sign-out = Sign out
cancel = Cancel
done = Done
continue = Continue
username = Username
password = Password
password-new = New password
password-again = The same password again
code-label = 6-digit code
code-verify = Verify code
request-id = Request id:

## Levels in plain words (the acr values aal1, aal2, phr, phrh)
level-aal1 = password
level-aal2 = a second factor
level-phr = a passkey
level-phrh = a hardware-bound key

## Risk reasons of a step-up
reason-impossible-travel = Impossible travel
reason-impossible-travel-values = Impossible travel: from { $from } to { $to } in { $time }
reason-new-country = This sign-in comes from a country you have not signed in from before
reason-new-country-values = This sign-in comes from a country you have not signed in from before ({ $country })
reason-new-device = This sign-in comes from a new device
reason-device-mismatch = Your device looks different from before
reason-account-attack = There were many failed sign-ins on your account
reason-stuffing-source = Many accounts failed to sign in from this network
reason-hosting-network = This sign-in comes from a hosting network
reason-anonymizer = This sign-in comes through an anonymising network
reason-new-asn = This sign-in comes from a network you have not used before
reason-sensitive-burst = Unusually many sensitive requests
reason-unusual = This sign-in looks unusual
duration-minutes = { $n } minutes
duration-hours = { $n } hours

## Sign-in
login-title = Sign in
login-heading = Sign in to { $client }
login-passkey = Sign in with a passkey
login-or = or
login-submit = Sign in
account-client-name = your account

## Second factor and step-up
factor-title = Confirm it's you
factor-signing-in = Signing in to { $client } as { $login }.
stepup-heading = This action needs a stronger sign-in
stepup-explain = { $client } asks for a stronger sign-in ({ $level }) than this session has.
stepup-continue-as = Choose one of these to continue as { $login }.
stepup-why = Why we ask
factor-passkey = Passkey
factor-passkey-use = Use your passkey
factor-otp = One-time code
factor-otp-label = 6-digit code from your authenticator app or a recovery code, or from

## Approval on an enrolled device
device-title = Approve on your device
device-explain = { $client } asks for a stronger sign-in. On your enrolled terminal, run
device-explain-after = (or answer the agent's prompt), enter your PIN and type this number:
device-number-label = number to type on your device
device-number-expires = The number expires in two minutes.
device-continue = I approved it, continue
device-renew = Show a new number
device-otp-heading = Or type a one-time code
device-otp-explain = Offline or no prompt? Open your authenticator app, or type the code that this command shows on your terminal:

## A level the user cannot reach
unmet-title = A stronger sign-in is needed
unmet-add = Add one on your account page
unmet-add-after = , then start again from the application.
unmet-ask-admin = Ask your administrator to set one up for you.
unmet-back = Back to { $client }
unmet-aal1 = { $client } needs a way to sign in; your account has none.
unmet-aal2-password = { $client } needs a second step after your password: an authenticator app or a passkey. You have only a password.
unmet-aal2-none = { $client } needs a second step after your password: an authenticator app or a passkey. You have neither.
unmet-phr = { $client } needs a passkey (or an enrolled device); you have none. A password or a one-time code is not enough for it.
unmet-phrh = { $client } needs a hardware-bound key: a device-bound passkey from a maker your organisation trusts, or a device with a TPM. You have none.
unmet-phrh-synced = { $client } needs a hardware-bound key: a device-bound passkey from a maker your organisation trusts, or a device with a TPM. You have none (your passkeys are synced or their maker is not trusted).

## Account
account-title = Your account
account-heading = Sign-in methods for { $login }
account-passkeys = Passkeys
account-no-passkeys = No passkeys yet.
account-passkey-suspended = suspended (possible clone)
account-passkey-added = added { $date }
account-passkey-last-used = last used { $date }
account-passkey-new-name = New name for { $name }
account-passkey-rename = Rename
account-passkey-remove = Remove { $name }
account-passkey-name-label = Name for a new passkey
account-passkey-default-name = My passkey
account-passkey-add = Add a passkey
account-totp = Authenticator app (TOTP)
account-totp-on = An authenticator app is set up.
account-totp-remove = Remove authenticator app
account-totp-setup = Set up an authenticator app
account-password = Password
account-password-change = Change password
account-recovery = Recovery codes
account-recovery-new = Generate new recovery codes
account-back = Back to your account
recovery-left = { $n ->
    [one] { $n } unused recovery code.
   *[other] { $n } unused recovery codes.
}
recovery-heading = Your recovery codes
recovery-explain = Each code works once, in place of a code from your authenticator app. Store them somewhere safe: they are shown only now.
totp-scan = Scan this code with your authenticator app, or enter the key by hand.
totp-qr-alt = QR code for your authenticator app
totp-key = Key
totp-link = Setup link
totp-enter-code = Enter the 6-digit code the app shows
totp-turn-on = Turn on
totp-start-explain = A new key for your authenticator app is made when you ask for it; an unfinished setup is replaced.
totp-new = Show a new key
passkey-kind-synced = synced
passkey-kind-attested = device-bound, attested
passkey-kind-bound = device-bound
passkey-never = never
passkey-js-failed = The passkey was not accepted.
passkey-js-cancelled = The passkey was not used.

## Password reset link
reset-title = Choose a password
reset-heading = Choose a new password
reset-for = For { $login }.
reset-explain = Use at least { $n } characters; a few unrelated words make a good password. This link works once.
reset-submit = Set password

## Sign out
logout-heading = Sign out?

## Landing page and demo
home-intro = This is the { $product } sign-in service at
home-account = Your account
home-account-what = passkeys, one-time passwords, devices.
home-demo = The demo relying party
home-demo-what = sign in and see the ID token.
home-discovery = OpenID Connect discovery
home-discovery-what = for relying parties.
demo-title = Demo relying party
demo-heading = Signed in
demo-explain = The demo relying party exchanged the code at the token endpoint and verified nothing more than you see: this is the ID token's payload.

## Sentences handlers pass (found by their English text)
msg-invalid-request = Invalid request
msg-something-wrong = Something went wrong
msg-something-wrong-dot = Something went wrong.
msg-try-later = Try again later.
msg-please-try-later = Please try again later.
msg-please-try-again = Please try again.
msg-nothing-changed = Nothing was changed. Try again later.
msg-form-expired = The form expired
msg-reload = Reload the page and try again.
msg-page-expired = The page expired. Reload it and try again.
msg-expired = This sign-in has expired
msg-start-again = Go back to the application and start again.
msg-other-browser = This sign-in belongs to another browser
msg-completed = This sign-in was already completed
msg-go-back = Go back to the application.
msg-link-invalid = This sign-in link is not valid
msg-unknown-client = Unknown client.
msg-unknown-client-named = Unknown client { $q }.
msg-no-client-id = The request has no client_id.
msg-redirect-unregistered = The redirect_uri is not registered for this client.
msg-no-redirect = The request has no redirect_uri.
msg-params-malformed = The request parameters are malformed.
msg-params-utf8 = The request parameters are not valid UTF-8.
msg-no-user = No user.
msg-enter-username = Enter your username.
msg-locked = Too many failed attempts. Try again later.
msg-unavailable = Sign-in is unavailable right now. Try again later.
msg-unavailable-short = Sign-in is unavailable right now.
msg-unavailable-title = Sign-in is unavailable right now
msg-busy = Too many sign-ins at once. Try again in a moment.
msg-server-busy = The server is busy; try again in a moment.
msg-incorrect = The username or password is incorrect.
msg-too-many = Too many attempts
msg-wait = Wait a minute, then try again.
msg-too-many-wait = Too many attempts. Wait a minute, then try again.
msg-refused = Sign-in refused
msg-no-account = This account does not exist any more.
msg-policy-refused = This sign-in was refused by your organisation's security policy. If this was you, contact your administrator.
msg-not-json = The request is not valid JSON.
msg-no-passkey = You have no passkey.
msg-passkey-expired = This passkey request expired. Try again.
msg-passkey-invalid = The passkey response is not valid.
msg-passkey-unverified = That passkey could not be verified.
msg-passkey-not-registered = The passkey could not be registered.
msg-code-used = That code was already used. Wait for the next one.
msg-code-wrong = That code is not correct.
msg-code-wrong-app = That code is not correct. Enter the current code from your app.
msg-passkey-renamed = Passkey renamed.
msg-passkey-missing = That passkey does not exist.
msg-last-factor = You cannot remove your last way to sign in.
msg-passkey-removed = Passkey removed.
msg-totp-exists = TOTP is already set up. Remove it first.
msg-totp-removed = TOTP removed.
msg-password-directory = Your password is managed by your organisation's directory; change it there.
msg-password-differ = The two passwords differ.
msg-password-changed = Your password was changed.
msg-password-short = the password must have at least { $n } characters
msg-password-long = the password must have at most { $n } characters
msg-password-breached = this password is on the list of breached or common passwords; choose another
msg-password-login = the password must not contain the account's login name
msg-device-approved = Approved on your device. Press continue.
msg-device-mismatch = The number typed on the device did not match. Show a new number and try again.
msg-device-refused = The sign-in was refused on the device.
msg-device-expired = The number expired. Show a new number and try again.
msg-no-device-title = No device
msg-no-device = You have no enrolled device. Go back to the application and start again.
msg-device-pending = Not approved yet. Type the number on your device, then continue.
msg-logout-invalid = Invalid sign-out request
msg-logout-hint = The id_token_hint is not a valid ID token from this issuer.
msg-logout-redirect = The post_logout_redirect_uri is not registered for this client.
msg-signed-out-title = Signed out
msg-signed-out = You are signed out.
msg-bad-redirect = Bad redirect URI.
msg-reset-gone-title = This link no longer works
msg-reset-gone = It was already used, it has expired, or a newer link replaced it. Ask your administrator for a new one.
msg-reset-done-title = Password set
msg-reset-done = Your new password is set and your other sessions have ended. Sign in to your applications with it.
msg-demo-unavailable = Demo unavailable
msg-signin-failed = Sign-in failed
msg-no-code = No code.
msg-exchange-failed = Code exchange failed
