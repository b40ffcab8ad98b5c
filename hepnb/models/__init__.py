"""Model families, one per module, in the style of PyTorch Geometric."""

from hepnb.models.interaction_network import InteractionLayer as InteractionLayer
from hepnb.models.interaction_network import InteractionNetwork as InteractionNetwork
from hepnb.models.tracknet import TrackNETv2 as TrackNETv2
from hepnb.models.tracknet import ellipse_area as ellipse_area
from hepnb.models.tracknet import in_ellipse as in_ellipse
from hepnb.models.tracknet import next_hit_targets as next_hit_targets
from hepnb.models.tracknet import tracknet_loss as tracknet_loss
