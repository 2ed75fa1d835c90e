"""Weekly AI Tool Verdicts: the newsletter service behind an AI-tool comparison site."""

__version__ = "0.1.0"
