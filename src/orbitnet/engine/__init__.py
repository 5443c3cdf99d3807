"""An embedded orbit-library engine that builds DYNAMITE-like Schwarzschild libraries."""
