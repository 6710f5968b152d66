"""Gallery: shuffled samples of the data set."""
import streamlit as st

st.title("Gallery")
