"""Following calls on the switch over AMI: parse, track, store, call back."""
