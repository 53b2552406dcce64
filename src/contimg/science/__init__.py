"""Pure numerical science: numpy/scipy/astropy only. Nothing here touches databases,
HTTP or files it was not handed as arguments."""
