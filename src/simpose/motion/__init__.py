"""simpose.motion"""
