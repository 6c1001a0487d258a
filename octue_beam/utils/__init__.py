"""Helpers at the module paths of Octue's `octue.utils`, so an app ported by rewriting its imports finds them."""
