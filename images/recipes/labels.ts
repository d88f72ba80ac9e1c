/** The recipe's hash: the engine's image is current when it carries the hash of today's recipe. */
export const RECIPE_LABEL = 'org.faultline.recipe';
/** Which shipped recipe the image was made from. */
export const RECIPE_NAME_LABEL = 'org.faultline.recipe-name';

export const recipeImageName = (name: string): string => `faultline/${name}`;

export const imageLabels = (name: string, hash: string): Record<string, string> => ({ [RECIPE_LABEL]: hash, [RECIPE_NAME_LABEL]: name });
