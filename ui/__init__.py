"""Streamlit web UI; talks to the service only through rag.client."""
