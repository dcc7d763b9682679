"""simpose.cues"""
