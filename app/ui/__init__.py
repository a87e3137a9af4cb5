"""The moderation UI at /ui/: server-rendered (Jinja2), htmx and CSS served from the
package, no external assets, so it works air-gapped. Log in with an API key that has
the review or admin scope."""
