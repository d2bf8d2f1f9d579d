"""What reads run folders and fetches files: the atlas, compare, analyze, downloads. Imports
from every layer below, never the other way."""
