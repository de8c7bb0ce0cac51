"""``vssleval prepare``: build the folders the dataset readers read from what users download
(docs/datasets.md §10): VGG-Sound clips (:func:`prepare_vggss`, needs PyAV), the Flickr-SoundNet
test archive (:func:`prepare_flickr`) and the IS3 release (:func:`prepare_is3`)."""

from vssleval.data.prepare.common import Outcome, Summary
from vssleval.data.prepare.flickr import prepare_flickr
from vssleval.data.prepare.is3 import prepare_is3
from vssleval.data.prepare.vggss import prepare_vggss

__all__ = ["Outcome", "Summary", "prepare_flickr", "prepare_is3", "prepare_vggss"]
