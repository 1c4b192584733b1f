# subgoal: enter the configured user name in the Login field and sign in [text_visible(Welcome)]
type_text(secret("username"), into="Login")
tap("Sign in")
checkpoint("signed in")
