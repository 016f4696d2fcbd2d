"""Registry checks of a person's data as durable jobs, and the level they earn (issue 10)."""
