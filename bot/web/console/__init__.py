"""The staff console: login, sessions, CSRF and role checks that every console page uses."""
