"""The simulated phone: a stdlib WebDriver server standing in for Appium + UiAutomator2 + the app."""
