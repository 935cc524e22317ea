"""Appeals and account requests: cases, their steps, and how they are opened."""
