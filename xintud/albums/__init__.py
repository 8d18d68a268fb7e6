"""Albums: events and trips made from when and where photos were taken, and what they show."""
