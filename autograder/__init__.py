"""The course's grading harness: release the lessons, grade a class, give feedback, report."""
