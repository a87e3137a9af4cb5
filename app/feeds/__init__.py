"""Hash-sharing feeds: one adapter per feed behind one interface, and the runner that
applies what they fetch to a bank."""
