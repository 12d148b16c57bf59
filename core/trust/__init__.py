"""Trust: access policy and scopes (``access``), masking (``privacy``), sign-in (``auth``) and the audit trail
(``audit``). Import the modules themselves; this package re-exports nothing, so importing the policy never pulls in
the store."""
