"""Explanations: token attributions (occlusion, integrated gradients) and the HTML page."""
