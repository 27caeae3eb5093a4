"""What routes and pages share: queries, rankings, workflows."""
