"""The bundled demo: a local server for the demo sites (site/, site_phase2/) and the demo's flow."""
