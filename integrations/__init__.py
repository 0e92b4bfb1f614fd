"""Framework plugins: one small adapter module per framework over ``forkpoint.Run``."""
