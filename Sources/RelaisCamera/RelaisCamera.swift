// RelaisCamera: the relay's rules for remote camera control, sans-IO (messages and time in,
// messages, deadlines and audit records out).
