"""Gallery: shuffled samples with their labels (and the model's guesses), class counts and mean images."""
import random

import streamlit as st

from mlp import analysis
from mlp.augment import LEVELS, describe, distort
from playground.figures import class_counts
from playground import session
from playground.server import dataset

COUNTS = [24, 48, 96]
ZOOM = 3  # 28 px shown as 84 px, each pixel repeated so the digits stay crisp
DEFAULTS = {"gallery_seed": 0, "gallery_split": "Train", "gallery_count": 48, "gallery_classes": [],
            "gallery_mistakes": False, "gallery_distort": "as on the Train page", "gallery_distort_seed": 0}
WARPED = 8  # samples shown as they are and distorted


@st.cache_data(show_spinner=False, max_entries=8)
def split_summary(name, split, _images, _labels, n_classes):
    """Class counts and (enlarged) mean images of one split of one data set, computed once per server."""
    means = analysis.mean_images(_images, _labels, n_classes)
    return analysis.class_counts(_labels, n_classes), analysis.upscale(means, ZOOM)


def reshuffle():
    """Draw a new seed, never the current one."""
    ss = st.session_state
    ss.gallery_seed = (int(ss.gallery_seed) + random.randrange(1, 10**6)) % 10**6


st.title("Gallery")
data = dataset()
ss = st.session_state
saved = ss.setdefault("gallery", dict(DEFAULTS))  # Streamlit forgets widget values on other pages
for key in DEFAULTS:
    ss.setdefault(key, saved[key])
model = session.current_model(data.name)

c1, c2, c3, c4, c5 = st.columns([1, 1.15, 1.25, 1.6, 3], vertical_alignment="bottom")
c1.number_input("Seed", 0, 2**31 - 1, key="gallery_seed",
                help="The same seed shows the same images, in the same order.")
c2.button("Reshuffle", key="reshuffle", on_click=reshuffle, icon=":material/shuffle:",
          help="Draw a new seed and show other images")
c3.radio("Split", ["Train", "Test"], key="gallery_split", horizontal=True,
         help="Train: the 60,000 images the network learns from. Test: 10,000 images it never sees "
              "while training, used to measure it.")
c4.radio("Images", COUNTS, key="gallery_count", horizontal=True)
c5.multiselect("Classes", data.classes, key="gallery_classes", placeholder="All classes",
               help="Show only these classes; leave empty for all.")
st.toggle("Only mistakes", key="gallery_mistakes", disabled=model is None,
          help="Show only images the model gets wrong." if model is not None
          else "Needs a model trained on this data set: train one on the Train page.")

train = ss.gallery_split == "Train"
x, y = (data.x_train, data.y_train) if train else (data.x_test, data.y_test)
classes = [data.classes.index(c) for c in ss.gallery_classes]
seed, count = int(ss.gallery_seed), ss.gallery_count
names = data.classes

if model is not None and ss.gallery_mistakes:
    with st.spinner("Looking for mistakes…"):
        idx, pred = analysis.mistakes(model, x, y, count, seed, classes)
else:
    idx = analysis.sample(y, count, seed, classes)
    pred = None if model is None else analysis.predict_all(model, x[idx]).argmax(axis=1)

labels = [int(t) for t in y[idx]]
if pred is None:
    captions = [names[t] for t in labels]
    st.caption("Each image with its label. Train a model on the **Train** page to see its guesses here too.")
else:
    ok = [t == int(p) for t, p in zip(labels, pred)]
    captions = [f"{names[t]} ✓" if good else f"{names[t]} → {names[p]} ✗"
                for t, p, good in zip(labels, pred, ok)]
    if ss.gallery_mistakes and len(idx):
        st.markdown(f"**{len(idx)} images the model gets wrong** (label → the model's guess).")
    elif not ss.gallery_mistakes:
        st.markdown(f"The model gets **{sum(ok)} of {len(idx)}** shown right (✓; a mistake shows "
                    "label → the model's guess ✗).")
    status = session.job_status()
    if status is not None and status.alive:
        st.caption(f"Training goes on: these guesses come from the weights of update "
                   f"{status.snapshot_step:,}. Reshuffle or change a setting to use newer ones.")

if len(idx):
    st.image(list(analysis.upscale(x[idx], ZOOM)), caption=captions, width=28 * ZOOM, output_format="PNG")
else:
    st.success("The model gets every image of this selection right.")

st.divider()
st.subheader("What the network trains on")
LEVEL_CHOICES = [DEFAULTS["gallery_distort"], *(n for n in LEVELS if n != "off")]
st.radio("Distortion", LEVEL_CHOICES, key="gallery_distort",
         horizontal=True, help="Training can show the network each image distorted afresh at every update "
                               "(Distort training images, on the Train page), so that it learns digits as "
                               "people write them.")
ss.gallery = {key: ss[key] for key in DEFAULTS}
chosen = ss.gallery_distort
distortion = LEVELS[chosen] if chosen in LEVELS else session.train_page_config().distortion
if distortion.identity:
    st.caption("Distortion is off on the Train page: the network sees its training images as they are. "
               "Choose light or strong above to see what it would see, or turn it on at **Train**.")
else:
    st.caption(f"The first {WARPED} samples above as they are (top), and twice as the network may see them "
               f"({describe(distortion)}; {'your Train page settings' if chosen not in LEVELS else chosen}). "
               "Each update draws new distortions.")
st.button("Distort again", key="redistort", icon=":material/refresh:", disabled=distortion.identity,
          on_click=lambda: ss.update(gallery_distort_seed=ss.gallery_distort_seed + 1))
shown = x[idx[:WARPED]]
draws = [] if distortion.identity else [(seed, ss.gallery_distort_seed, i) for i in range(2)]
versions = [shown] + [distort(shown, distortion, seed=s).reshape(-1, 28, 28) for s in draws]
for j, column in enumerate(st.columns(WARPED)):  # each sample above its distorted versions
    column.image([analysis.upscale(v[j], ZOOM) for v in versions], width=28 * ZOOM, clamp=True,
                 caption=[names[y[idx[j]]], "distorted", "again"][:len(versions)], output_format="PNG")

st.divider()
counts, means = split_summary(data.name, ss.gallery_split, x, y, len(names))
st.subheader(f"The whole {ss.gallery_split.lower()} split: {len(y):,} images")
st.markdown("**Mean image of each class**: the average of all its images, pixel by pixel "
            "(with how many images the class has).")
st.image(list(means), caption=[f"{n} ({c:,})" for n, c in zip(names, counts)], width=28 * ZOOM,
         clamp=True, output_format="PNG")
st.markdown("**Images per class**")
st.plotly_chart(class_counts(counts, names), width="stretch")
