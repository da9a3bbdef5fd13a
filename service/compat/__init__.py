"""Drop-in compatibility with Perspective's `comments:analyze`, Akismet's REST API and Coral's external
moderation phase: sites that used those services switch by changing one URL."""
