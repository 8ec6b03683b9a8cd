"""The meetings service: joint Party-government meetings (党政联席会议) and consultation topics (协商议题)."""
